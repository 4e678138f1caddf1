"""The DataManager function app: a table of contents of its blueprints."""

import azure.functions as func

from blueprints import durable, jobs, openapi, outbox, translation_sets, translations, webhooks
from core.jobs.selection import durable_selected

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

BLUEPRINTS = (translation_sets, translations, webhooks, jobs, openapi, outbox)
for module in BLUEPRINTS:
    app.register_functions(module.bp)

# Only with Durable Functions selected: without it, nothing asks for the extension.
if durable_selected():
    app.register_functions(durable.bp)

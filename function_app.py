"""The DataManager function app: a table of contents of its blueprints."""

import azure.functions as func

from blueprints import jobs, translation_sets, translations, webhooks

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (translation_sets.bp, translations.bp, webhooks.bp, jobs.bp):
    app.register_functions(blueprint)

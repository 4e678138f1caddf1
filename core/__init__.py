"""DataManager's domain: translation data, webhooks and their delivery.

Nothing in this package imports `azure.functions`; the blueprints adapt HTTP
triggers to it.
"""

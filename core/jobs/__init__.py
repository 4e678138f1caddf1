"""Notification jobs and the services that run them."""

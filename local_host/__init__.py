"""A small stand-in for `func start`: serves the app's HTTP functions locally.

It reads the routes from the FunctionApp object itself, so there is no second
route table to drift. Like `func start`, it does not enforce function keys.
"""

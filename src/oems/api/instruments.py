"""Placeholder until the endpoints land."""

from starlette.routing import Route

routes: list[Route] = []

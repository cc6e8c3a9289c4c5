"""Faust topic objects for the catalogue, bytes in and bytes out (pydantic does the decoding)."""

from __future__ import annotations

import faust

from streams.settings import Settings


class Topics:
    def __init__(self, app: faust.App, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self._made: dict[str, faust.TopicT] = {}

    def __call__(self, *bases: str) -> faust.TopicT:
        """The topic (or, given several names, one channel over all of them)."""
        names = tuple(self._settings.topic(base) for base in bases)
        if len(names) == 1 and names[0] in self._made:
            return self._made[names[0]]
        topic = self._app.topic(*names, key_serializer="raw", value_serializer="raw")
        if len(names) == 1:
            self._made[names[0]] = topic
        return topic

    def base(self, name: str) -> str:
        """The catalogue name of a full topic name."""
        return name.removeprefix(self._settings.topic_prefix)

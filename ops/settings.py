"""Reading the application's settings for an ops command, with errors a person can act on."""

from __future__ import annotations

from pydantic import ValidationError

from libkoiki.config import Settings


class InvalidSettings(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))
        self.problems = problems


def validation_lines(exc: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable (`SECRET_KEY: ...`)."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{field}: {message}" if field else message)
    return lines


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings(validation_lines(exc)) from exc

"""Exit codes scripts can rely on, and the errors a user can cause or fix turned into them."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import click
from seldon_core.flask_utils import SeldonMicroserviceException

from modelrepo.modeldir.client import ServerError, Unreachable
from wrappers.errors import InvalidInput, ModelLoadError, ScaffoldError

EXIT_CODES = """\b
Exit codes:
  0  success
  1  the model failed: a check, its load, or the server's answer (5xx)
  2  usage error: a bad option, a missing file, a request that does not fit (4xx)
  3  environment: no server answers, a framework or program is not installed"""


class ExitCode(IntEnum):
    OK = 0
    MODEL = 1
    USAGE = 2
    ENVIRONMENT = 3


class Failure(click.ClickException):
    """A message for the user, without a traceback, and the exit code it stands for."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.exit_code = int(exit_code)


class FriendlyGroup(click.Group):
    """Turns the errors a user can cause or fix into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except (ScaffoldError, InvalidInput) as exc:
            raise Failure(str(exc), ExitCode.USAGE) from exc
        except ServerError as exc:
            client_side = isinstance(exc.status, int) and 400 <= exc.status < 500
            client_side |= exc.status == "INVALID_ARGUMENT"
            raise Failure(str(exc), ExitCode.USAGE if client_side else ExitCode.MODEL) from exc
        except (ModelLoadError, SeldonMicroserviceException) as exc:
            raise Failure(str(exc), ExitCode.MODEL) from exc
        except (Unreachable, ImportError, OSError) as exc:
            raise Failure(f"{exc}", ExitCode.ENVIRONMENT) from exc

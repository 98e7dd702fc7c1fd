"""The CLI's way to the control plane: the HTTP API (``--api``) or Kafka directly.

Both ways go through the same rules (:class:`streamlabel.api.ControlPlane`: the API runs
it server-side, the direct way in-process over a :class:`~streamlabel.api.KafkaBackend`),
so a refusal reads the same either way: ``streamlabel: error: <reason>``, exit 2.
Writing to Kafka directly needs no token (broker access is the authority) and records the
change as ``cli:<user>``.

Only the standard library is imported at module level.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from streamlabel.api import ApiClient, ControlPlane

__all__ = ["add_control_options", "add_models_commands", "call_control"]

T = TypeVar("T")

#: Environment variable holding the CLI's bearer token for ``--api``.
TOKEN_ENV = "STREAMLABEL_API_TOKEN"
#: Environment variable naming the API when ``--api`` is not given.
API_ENV = "STREAMLABEL_API_URL"


def add_control_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--api`` (use the HTTP API instead of Kafka) to a command."""
    parser.add_argument(
        "--api",
        metavar="URL",
        default=os.environ.get(API_ENV) or None,
        help=f"the control API (http://host:port); default: ${API_ENV}, else Kafka directly "
        f"(token from ${TOKEN_ENV})",
    )


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"cli:{user}"


@contextlib.contextmanager
def _direct(args: argparse.Namespace) -> Iterator[ControlPlane]:
    from streamlabel.api import BackendUnavailableError, ControlPlane, KafkaBackend
    from streamlabel.cli._lf import LFCommandError, _settings

    settings = _settings(args)
    backend = KafkaBackend(settings, timeout=args.timeout)
    try:
        yield ControlPlane(backend)
    except BackendUnavailableError as exc:
        raise LFCommandError(
            f"{exc}; set --brokers or STREAMLABEL_BROKERS (`streamlabel dev kafka up` starts one)"
        ) from None
    finally:
        backend.close()


def call_control(
    args: argparse.Namespace,
    direct: Callable[[ControlPlane, Any], T],
    api: Callable[[ApiClient], T],
) -> T:
    """Run ``api(client)`` when ``--api`` is given, else ``direct(plane, principal)``."""
    if getattr(args, "api", None):
        from streamlabel.api import ApiClient

        client = ApiClient(args.api, os.environ.get(TOKEN_ENV) or None, timeout=args.timeout + 20)
        return api(client)
    from streamlabel.api import Principal

    with _direct(args) as plane:
        return direct(plane, Principal(_actor(), "write"))


# --------------------------------------------------------------------------- models


def add_models_commands(commands: Any) -> None:
    """Add ``streamlabel models list|promote|rollback``."""
    from streamlabel.cli._lf import _add_broker_options

    models = commands.add_parser(
        "models",
        help="model versions: list, promote, roll back (through the trainer)",
        description=(
            "Read the champion and registry of every model name, or ask the trainer that "
            "owns a model's registry to promote a version or roll back (a command on the "
            "model-commands topic; the outcome shows in `models list`)."
        ),
    )
    verbs = models.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="champion and versions of every model name")
    _add_broker_options(ls)
    add_control_options(ls)
    ls.set_defaults(handler=_run_models_list, render=_render_models)
    pr = verbs.add_parser("promote", help="make VERSION the champion of NAME")
    pr.add_argument("name", metavar="NAME")
    pr.add_argument("version", metavar="VERSION")
    pr.add_argument("--reason", required=True, help="why (recorded with who and when)")
    _add_broker_options(pr)
    add_control_options(pr)
    pr.set_defaults(handler=_run_models_promote, render=_render_command)
    rb = verbs.add_parser("rollback", help="return NAME to its previous champion")
    rb.add_argument("name", metavar="NAME")
    rb.add_argument("--reason", required=True, help="why (recorded with who and when)")
    _add_broker_options(rb)
    add_control_options(rb)
    rb.set_defaults(handler=_run_models_rollback, render=_render_command)


def _run_models_list(args: argparse.Namespace) -> dict[str, Any]:
    models: dict[str, Any] = call_control(
        args, lambda plane, who: plane.models(), lambda c: c.get("/models")
    )
    return {"models": models}


def _run_models_promote(args: argparse.Namespace) -> dict[str, Any]:
    body = {"version": args.version, "reason": args.reason}
    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: plane.model_command(
            args.name, "promote", who, args.reason, args.version
        ),
        lambda c: c.post(f"/models/{args.name}/promote", body),
    )
    return result


def _run_models_rollback(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = call_control(
        args,
        lambda plane, who: plane.model_command(args.name, "rollback", who, args.reason),
        lambda c: c.post(f"/models/{args.name}/rollback", {"reason": args.reason}),
    )
    return result


def _render_models(report: Mapping[str, Any]) -> str:
    """Readable ``models list``.

    Examples
    --------
    >>> print(_render_models({"models": {"fraud": {"champion": {"version": {"version": "v2"},
    ...     "entry": {"action": "promote", "actor": "trainer", "reason": "beat v1"}},
    ...     "registry": {"versions": [{"version": "v1"}, {"version": "v2"}]}}}}))
    fraud: champion v2 (promote by trainer: beat v1); versions v1, v2
    """
    lines = []
    for name, m in report["models"].items():
        champ = m.get("champion") or {}
        version = (champ.get("version") or {}).get("version")
        entry = champ.get("entry") or {}
        how = f" ({entry.get('action')} by {entry.get('actor')}: {entry.get('reason')})"
        versions = [v.get("version") for v in (m.get("registry") or {}).get("versions", [])]
        lines.append(
            f"{name}: champion {version or 'none'}{how if entry else ''}"
            f"; versions {', '.join(versions) or 'unknown'}"
        )
    return "\n".join(lines) or "no models"


def _render_command(report: Mapping[str, Any]) -> str:
    """Readable promote/rollback answer.

    Examples
    --------
    >>> print(_render_command({"status": "accepted", "model": "fraud", "command_id": "ab"}))
    accepted: command ab for model 'fraud' sent to its trainer (see `streamlabel models list`)
    """
    return (
        f"{report['status']}: command {report['command_id']} for model {report['model']!r} "
        "sent to its trainer (see `streamlabel models list`)"
    )

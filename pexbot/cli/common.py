"""What every job command shares: options, ``PEXBOT_*`` variables, the embedded emulator, TLS,
signals, metrics, and one-line errors.

Options. ``--node URL`` (omitted: an emulator is started in-process, see
:mod:`pexbot.jobs.demo`), ``--alias``, ``--name``, ``--pin``, ``--direct-media``, ``--ca-file`` /
``--insecure``, ``--duration``, ``--json``, ``--log-level``, ``--metrics-port``; ``--rejoin``
for the jobs that carry on across a re-join (record, join). Every option of
every command can also come from the environment: ``--metrics-port`` from
``PEXBOT_METRICS_PORT``, ``--insecure`` from ``PEXBOT_INSECURE=1`` (:func:`apply_env`); the
command line wins. ``PEXBOT_PIN`` keeps a PIN out of process listings.

Signals. SIGINT and SIGTERM ask the job to stop: it leaves the conference (call disconnected,
token released) and finalises what it writes, then exits as it would at the end of its
duration. A second signal cancels it (still releasing the token, bounded in time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from media.errors import MediaError
from pexbot.errors import ConfigError, PexbotError
from pexbot.jobs.demo import DEMO_ALIAS, embedded_emulator
from pexbot.jobs.event_loop import LOOPS
from pexbot.jobs.metrics import MetricsRegistry, MetricsServer
from pexbot.jobs.target import JoinTarget
from pexbot.session.rejoin import RejoinPolicy

from .terminal import terminal_safe

log = logging.getLogger(__name__)

ENV_PREFIX = "PEXBOT_"
DEFAULT_REJOINS = 5
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def log_level(text: str) -> str:
    """``--log-level`` in any case (``debug``, ``Debug``): argparse then checks the choices."""
    return text.strip().upper()


#: option values never echoed in error messages
SECRET_DESTS = frozenset({"pin"})


def env_name(dest: str) -> str:
    return ENV_PREFIX + dest.upper()


def description(doc: str | None) -> str | None:
    """A command's description for ``--help``: its module docstring's first paragraph."""
    return doc.split("\n\n")[0].replace("``", "") if doc else None


# -- options ---------------------------------------------------------------------------------------


def add_join_options(parser: argparse.ArgumentParser, *, default_alias: str = DEMO_ALIAS) -> None:
    group = parser.add_argument_group("joining")
    group.add_argument(
        "--node",
        metavar="URL",
        help="Conferencing Node base URL, e.g. https://pexip.example.com "
        "(default: start an emulator in this process and join its demo conference)",
    )
    group.add_argument(
        "--alias", help=f"conference alias (required with --node; default: {default_alias})"
    )
    group.add_argument("--name", default="pexbot", help="display name (default: pexbot)")
    group.add_argument("--pin", help="host or guest PIN; 'none' joins as a guest")
    group.add_argument(
        "--direct-media", action="store_true", help="ask for direct media (peer-to-peer)"
    )
    group.add_argument("--ca-file", metavar="PEM", help="CA certificates to verify the node with")
    group.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the node's TLS certificate (prints a warning)",
    )


def add_rejoin_option(parser: argparse.ArgumentParser) -> None:
    """``--rejoin [N]``: join again (up to N times per loss, backoff 1 s doubling to 30 s)
    when the node is lost; for the jobs that can carry on across a re-join."""
    group = parser.add_argument_group("recovery")
    group.add_argument(
        "--rejoin",
        type=int,
        nargs="?",
        const=DEFAULT_REJOINS,
        metavar="N",
        help="when the node is lost (stopped, restarted), join again, up to N tries per loss "
        f"(default {DEFAULT_REJOINS}) with backoff from 1 s to 30 s",
    )


def rejoin_policy(args: argparse.Namespace) -> RejoinPolicy | None:
    tries = getattr(args, "rejoin", None)
    if tries is None:
        return None
    if tries < 1:
        raise ConfigError(f"--rejoin {tries}: give at least 1 try")
    return RejoinPolicy(attempts=tries)


def add_run_options(
    parser: argparse.ArgumentParser, *, duration: float | None, duration_help: str
) -> None:
    group = parser.add_argument_group("running")
    group.add_argument(
        "--duration", type=float, default=duration, metavar="SECONDS", help=duration_help
    )
    group.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    group.add_argument(
        "--log-level",
        type=log_level,
        choices=LOG_LEVELS,
        default=argparse.SUPPRESS,
        help="logging level on stderr (default WARNING)",
    )
    group.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (0: a free port)",
    )
    group.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for --metrics-port (127.0.0.1)"
    )


def add_loop_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, default: str = "auto"
) -> None:
    parser.add_argument(
        "--loop",
        dest="event_loop",
        choices=LOOPS,
        default=default,
        help="event loop: uvloop (pip install 'pexbot[load]'; ~20 %% less CPU per packet), "
        f"asyncio, or auto: uvloop when installed (default: {default})",
    )


EnvErrors = dict[str | None, list[str]]


def apply_env(
    parser: argparse.ArgumentParser, environ: Mapping[str, str], *, command: str | None = None
) -> EnvErrors:
    """Defaults from ``PEXBOT_<DEST>`` for every option of ``parser`` and its sub-commands, and
    the variable's name in each option's help.

    A value that does not parse is not applied; its error (naming the variable, never echoing
    a secret) is returned under its sub-command's name (None: the main parser), so it only
    stops the command it belongs to: ``PEXBOT_MEDIA`` may suit ``load`` and not ``emulator``.
    """
    errors: EnvErrors = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for key, found in apply_env(sub, environ, command=name).items():
                    errors.setdefault(key, []).extend(found)
            continue
        if not action.option_strings or action.dest == "help":
            continue
        name = env_name(action.dest)
        if action.help and action.help is not argparse.SUPPRESS and name not in action.help:
            action.help = f"{action.help} [{name}]"
        raw = environ.get(name)
        if raw is None:
            continue
        try:
            action.default = _env_value(action, name, raw)
        except ConfigError as exc:
            errors.setdefault(command, []).append(str(exc))
            continue
        action.required = False
    return errors


def _env_value(action: argparse.Action, name: str, raw: str) -> Any:
    shown = "" if action.dest in SECRET_DESTS else f" {raw!r}"
    if action.nargs == 0:  # a flag
        text = raw.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return action.const
        if text in ("", "0", "false", "no", "off"):
            return action.default if action.default is not argparse.SUPPRESS else None
        raise ConfigError(f"{name}:{shown} is not a yes/no value (use 1 or 0)")
    value: Any = raw
    if action.type is not None and callable(action.type):
        try:
            value = action.type(raw)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            kind = getattr(action.type, "__name__", "value")
            raise ConfigError(f"{name}:{shown} is not a valid {kind}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(str(c) for c in action.choices)
        raise ConfigError(f"{name}:{shown} is not one of {choices}")
    return value


# -- where to join ---------------------------------------------------------------------------------


def tls_setting(args: argparse.Namespace, *, warn: TextIO | None = None) -> bool | ssl.SSLContext:
    """``verify_tls`` for the session: on by default, a context from ``--ca-file``, or off with
    ``--insecure`` (and a warning)."""
    ca_file = getattr(args, "ca_file", None)
    if getattr(args, "insecure", False):
        if ca_file:
            raise ConfigError("--insecure and --ca-file contradict each other; give one")
        print(
            "pexbot: warning: --insecure: the node's TLS certificate is not verified",
            file=warn or sys.stderr,
            flush=True,
        )
        return False
    if ca_file:
        path = Path(ca_file)
        try:
            return ssl.create_default_context(cafile=str(path))
        except FileNotFoundError:
            raise ConfigError(f"--ca-file {path}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"--ca-file {path}: not usable as CA certificates ({exc})") from None
    return True


@contextlib.asynccontextmanager
async def join_target(
    args: argparse.Namespace,
    *,
    embedded_alias: str = DEMO_ALIAS,
    media_size: tuple[int, int] = (640, 360),
    fps: float = 15.0,
) -> AsyncIterator[JoinTarget]:
    """The conference to join: ``--node``/``--alias``, or the embedded emulator's
    ``embedded_alias`` (unless ``--alias`` names another) for as long as the block runs."""
    verify = tls_setting(args)
    common = {
        "display_name": args.name,
        "pin": args.pin,
        "direct_media": args.direct_media,
        "verify_tls": verify,
        "rejoin": rejoin_policy(args),
    }
    if args.node:
        if not args.alias:
            raise ConfigError("--alias is required with --node")
        yield JoinTarget(args.node, args.alias, **common)
        return
    alias = args.alias or embedded_alias
    async with embedded_emulator(media_size=media_size, fps=fps) as emulator:
        print(
            f"pexbot: no --node: joining {alias!r} on an in-process emulator at "
            f"{emulator.base_url}",
            file=sys.stderr,
            flush=True,
        )
        yield JoinTarget(emulator.base_url, alias, embedded=True, **common)


# -- signals, metrics, output ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def stop_on_signals(*, quiet: bool = False) -> AsyncIterator[asyncio.Event]:
    """An event set by the first SIGINT/SIGTERM; a second one cancels the running task."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal(signum: int) -> None:
        if not stop.is_set():
            stop.set()
            if not quiet:
                name = signal.Signals(signum).name
                print(f"pexbot: {name}: stopping (again to force)", file=sys.stderr, flush=True)
        elif task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            continue
        installed.append(sig)
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def metrics_server(
    args: argparse.Namespace, registry: MetricsRegistry
) -> AsyncIterator[MetricsServer | None]:
    """Serves ``registry`` when ``--metrics-port`` was given (its URL printed on stderr)."""
    port = getattr(args, "metrics_port", None)
    if port is None:
        yield None
        return
    try:
        server = await MetricsServer(registry, host=args.metrics_host, port=port).start()
    except OSError as exc:
        raise ConfigError(
            f"--metrics-port {port}: cannot listen on {args.metrics_host}: {exc.strerror or exc}"
        ) from None
    print(f"pexbot: metrics at {server.url}", file=sys.stderr, flush=True)
    try:
        yield server
    finally:
        await server.aclose()


def print_json(data: Any, *, compact: bool, out: TextIO | None = None) -> None:
    text = json.dumps(data, separators=(",", ":")) if compact else json.dumps(data, indent=2)
    print(text, file=out or sys.stdout, flush=True)


def error_line(exc: BaseException) -> str:
    """One line saying what went wrong, for stderr (no traceback)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, PexbotError):
        text = str(exc)
    elif isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{exc.strerror or exc}"
    elif isinstance(exc, MediaError):
        text = str(exc)  # written for users (unreadable media, a recording that failed)
    else:
        text = f"internal error: {type(exc).__name__}: {exc} (--log-level DEBUG shows where)"
    return "pexbot: " + terminal_safe(" ".join(text.split()), 500)

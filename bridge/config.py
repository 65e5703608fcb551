"""TOML config -> pydantic models, with every problem reported at once by its key path.

Before validation two things happen to the raw TOML:
- ``${VAR}`` in any string is replaced from the environment (``$${`` keeps a literal ``${``);
- ``X_file = "path"`` beside a secret field ``X`` reads the secret from that file (a relative path
  is looked up in ``$CREDENTIALS_DIRECTORY`` when systemd set it, else next to the config).
Relative paths in the config are relative to the config file's folder.

A secret that has no value (its variable unset, its file unreadable) fails ``run`` and ``check``,
which use every secret. The other commands load the config with ``need_secrets=False``: the secret
is then noted in ``Config.missing_secrets`` and holds a placeholder, so ``status`` and ``retry``
(which use none) work from an admin shell that lacks the service's environment, and ``plan`` and
``preview`` read every source but the ones whose secret is missing.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bridge.connector import ConnectorConfig
from bridge.errors import ConfigError
from bridge.groups import GroupPolicy
from bridge.http import DEFAULT_LISTEN, parse_listen
from bridge.registry import connector_types, load_connector_type

__all__ = [
    "MISSING_SECRET", "Config", "ConfigPath", "GroupedConfig", "HttpConfig", "HttpUrl", "OmiConfig", "StateConfig",
    "TimeZoneName", "check_connector_table", "default_config_path", "load_config", "secrets_of", "validate_connector",
]

_ENV_REF = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _relative_to_config(value: Path, info: ValidationInfo) -> Path:
    value = value.expanduser()
    base = (info.context or {}).get("base_dir")
    return value if value.is_absolute() or base is None else Path(base) / value


ConfigPath = Annotated[Path, AfterValidator(_relative_to_config)]


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name like Europe/Berlin)") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(_zone)]  # "Europe/Berlin": where a source's days begin and end


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]  # "https://host[/path]", kept without a final slash


class GroupedConfig(ConnectorConfig):
    """Options of a connector whose chat messages the assembler groups (Slack, Matrix)."""

    group: Literal["burst", "day"] = Field(
        default="burst", description="burst: sent after quiet_period of silence; day: a channel's day, at midnight")
    quiet_period: float = Field(default=600, gt=0, description="a conversation closes after this much silence")
    max_span: float = Field(default=7200, gt=0, description="...or when it spans this long")
    timezone: TimeZoneName | None = Field(default=None, description="IANA zone for days and HH:MM; default: machine's")

    @property
    def tz(self) -> tzinfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    @property
    def policy(self) -> GroupPolicy:
        return GroupPolicy(self.quiet_period, self.max_span, by_day=self.group == "day", tz=self.tz)


class OmiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None
    base_url: HttpUrl = "https://api.omi.me"
    timeout: float = Field(default=120, gt=0, description="seconds; the endpoint runs LLM work synchronously")
    max_in_flight: int = Field(default=2, ge=1, le=16)
    rate_limit: str | None = Field(default=None, description='client-side pacing, e.g. "25/hour"')
    live_reserve: int | None = Field(
        default=None, ge=0, description="writes of each window backfill leaves to live items; default a fifth")
    read_budget: str = Field(default="50/hour", description="list calls for reconciliation; Omi allows 60/hour")
    retry_initial: float = Field(default=2, gt=0, description="first backoff ceiling, seconds")
    retry_max: float = Field(default=3600, gt=0, description="largest backoff, seconds")
    reconcile_delay: float = Field(default=120, ge=0, description="wait before checking a lost answer")
    auth_recheck: float = Field(default=300, gt=0, description="seconds between tries after 401/403")
    shutdown_grace: float = Field(default=30, ge=0, description="seconds in-flight sends get on stop")

    @field_validator("rate_limit", "read_budget")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None and not (match := _RATE.match(value)):
            raise ValueError('must look like "25/hour" (per second, minute, hour or day)')
        if value is not None and int(match.group(1)) < 1:
            raise ValueError("must allow at least 1 request")
        return value

    def pacing(self) -> tuple[int, float] | None:
        """(requests, window seconds) from ``rate_limit``, or None."""
        return None if self.rate_limit is None else _per_window(self.rate_limit)

    def read_pacing(self) -> tuple[int, float]:
        return _per_window(self.read_budget)


def _per_window(rate: str) -> tuple[int, float]:
    count, period = _RATE.match(rate).groups()  # type: ignore[union-attr]
    return int(count), float(_PERIODS[period])


class StateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: ConfigPath | None = Field(
        default=None, description="SQLite file; default $STATE_DIRECTORY/omi-bridge.db or omi-bridge.db"
    )


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # on by default for the web console; a default address that is taken is said once and skipped,
    # one the person set is a start-up error (see Bridge.run_forever)
    listen: str = Field(default=DEFAULT_LISTEN,
                        description='"host:port" of the console, /healthz and /metrics; "" turns it off')

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        if value.strip():
            parse_listen(value)
        return value.strip()

    @property
    def chosen(self) -> bool:
        """The person set ``listen`` (rather than leaving the default)."""
        return "listen" in self.model_fields_set


# what a secret without a value holds when the command does not need it: never a real secret
# (too short for the Redactor, which is right: there is nothing to hide), never sent anywhere,
# because a connector with a missing secret is not built (``Config.missing_for``)
MISSING_SECRET = "\0"


class Config(BaseModel):
    omi: OmiConfig
    http: HttpConfig = HttpConfig()
    state_path: Path
    connectors: dict[str, ConnectorConfig]
    source: Path
    missing_secrets: dict[str, str] = {}  # "connectors.mail.password" -> "IMAP_PASSWORD is not set"

    def missing_for(self, name: str) -> str | None:
        """Why connector ``name`` cannot be used (a secret it needs has no value), or None."""
        prefix = f"connectors.{name}."
        found = [why for key, why in self.missing_secrets.items() if key.startswith(prefix)]
        return "; ".join(found) or None


def default_config_path() -> Path:
    """``$OMI_BRIDGE_CONFIG``, else ./config.toml, else /etc/omi-bridge/config.toml."""
    env = os.environ.get("OMI_BRIDGE_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    if local.exists():
        return local
    return Path("/etc/omi-bridge/config.toml")


def _looked_at(path: Path) -> str:
    if os.environ.get("OMI_BRIDGE_CONFIG") or path != Path("/etc/omi-bridge/config.toml"):
        return str(path)
    return f"./config.toml in {Path.cwd()} and {path}"


def load_config(path: str | Path, *, need_secrets: bool = True) -> Config:
    """Read and validate the config; raise ConfigError listing every problem.

    ``need_secrets=False`` (every command but run and check) lets a secret without a value pass:
    the Omi key is then None, a connector's secret is listed in ``missing_secrets``.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"no such file (looked for {_looked_at(path)}; pass -c FILE, or set OMI_BRIDGE_CONFIG)"],
                          str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read: {exc}"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None

    problems: list[str] = []
    base_dir = path.resolve().parent
    missing_env: dict[str, str] = {}
    raw = _expand_env(raw, (), missing_env)
    secrets = _Secrets(base_dir, missing_env, need_secrets)
    if isinstance(raw.get("omi"), dict):
        problems += secrets.resolve(raw["omi"], OmiConfig, "omi")
        if raw["omi"].get("api_key") == MISSING_SECRET:
            del raw["omi"]["api_key"]  # no key: the commands that send refuse it below

    context = {"base_dir": base_dir}
    problems += [f"{key}: unknown section" for key in raw if key not in ("omi", "state", "http", "connectors")]
    omi = _validate(OmiConfig, raw.get("omi", {}), "omi", context, problems)
    state = _validate(StateConfig, raw.get("state", {}), "state", context, problems)
    http = _validate(HttpConfig, raw.get("http", {}), "http", context, problems)
    tables = raw.get("connectors", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        problems.append("connectors: must hold one [connectors.NAME] table per connector")
        tables = {}

    connectors: dict[str, ConnectorConfig] = {}
    for name, table in tables.items():
        where = f"connectors.{name}"
        validated, found = validate_connector(name, table, base_dir, secrets)
        problems += found
        if validated is not None:
            connectors[name] = validated
            if getattr(validated, "needs_http_listener", False) and http is not None and not http.listen:
                problems.append(f'{where}.mode: "http" needs the daemon\'s listener: set [http] listen')

    # variables left unset where no secret is: an error for every command, listed first
    problems[:0] = [f"{key}: environment variable {var} is not set" for key, var in missing_env.items()]
    if need_secrets and omi is not None and omi.api_key is None and not any(
        p.startswith("omi.api_key") for p in problems
    ):
        problems.append('omi.api_key: required (api_key = "${OMI_API_KEY}", or api_key_file)')
    if problems or omi is None or state is None or http is None:
        raise ConfigError(problems, str(path))

    state_path = state.path
    if state_path is None:
        state_dir = os.environ.get("STATE_DIRECTORY")
        state_path = Path(state_dir.split(":")[0]) / "omi-bridge.db" if state_dir else base_dir / "omi-bridge.db"
    return Config(omi=omi, http=http, state_path=state_path, connectors=connectors, source=path,
                  missing_secrets=secrets.missing)


def validate_connector(name: str, table: dict[str, Any], base_dir: Path,
                       secrets: _Secrets | None = None) -> tuple[ConnectorConfig | None, list[str]]:
    """One ``[connectors.NAME]`` table (its ``${ENV}`` already expanded), checked as a whole file
    is: its config (None if it has problems) and every problem with its key path."""
    where = f"connectors.{name}"
    known = connector_types()
    kind = table.get("type")
    if not isinstance(kind, str):
        return None, [f"{where}.type: required (one of: {', '.join(known) or 'none installed'})"]
    if kind not in known:
        return None, [f"{where}.type: unknown connector type {kind!r} (known: {', '.join(known)})"]
    model = load_connector_type(kind).Config
    secrets = secrets or _Secrets(base_dir, {}, True)
    problems = secrets.resolve(table, model, where)
    validated = _validate(model, table, where, {"base_dir": base_dir}, problems)
    return validated, problems


def check_connector_table(name: str, table: dict[str, Any], base_dir: Path) -> tuple[ConnectorConfig | None, list[str]]:
    """A table as a form would write it (the console's), checked with the messages ``check``
    gives: ``${ENV}`` expanded first, an unset variable a problem."""
    missing: dict[str, str] = {}
    raw = _expand_env(dict(table), ("connectors", name), missing)
    validated, problems = validate_connector(name, raw, base_dir)
    unset = [f"{key}: environment variable {var} is not set" for key, var in missing.items()]
    return (None if unset else validated), unset + problems


def secrets_of(config: Config) -> list[str]:
    """Every secret value in the config, for scrubbing logs and errors."""
    found = []
    for model in (config.omi, *config.connectors.values()):
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr) and value.get_secret_value() not in ("", MISSING_SECRET):
                found.append(value.get_secret_value())
    return found


def _expand_env(value: Any, where: tuple[str, ...], missing: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, (*where, str(k)), missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, (*where, str(i)), missing) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        escaped, var = match.groups()
        if escaped:
            return "${" + var + "}"
        if var not in os.environ:
            missing[".".join(where)] = var
            return ""
        return os.environ[var]

    return _ENV_REF.sub(replace, value)


def _is_secret(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    if info is None:
        return False
    annotation = info.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


class _Secrets:
    """Gives the secret fields of a table their values: from ``X_file`` files, and notes the ones
    left without a value (an unset variable, an unreadable file) as problems or, when the command
    does not need them, as missing."""

    def __init__(self, base_dir: Path, missing_env: dict[str, str], need: bool) -> None:
        self.base_dir = base_dir
        self.missing_env = missing_env  # key path -> variable; the secret ones are taken out
        self.need = need
        self.missing: dict[str, str] = {}

    def resolve(self, table: dict[str, Any], model: type[BaseModel], where: str) -> list[str]:
        problems = self._read_files(table, model, where)
        for field in [k for k in table if _is_secret(model, k)]:
            var = self.missing_env.get(f"{where}.{field}")
            if var is not None and not self.need:
                del self.missing_env[f"{where}.{field}"]
                self._lack(table, where, field, f"{var} is not set")
        return problems

    def _lack(self, table: dict[str, Any], where: str, field: str, why: str) -> None:
        self.missing[f"{where}.{field}"] = why
        table[field] = MISSING_SECRET

    def _read_files(self, table: dict[str, Any], model: type[BaseModel], where: str) -> list[str]:
        """Replace ``X_file`` by the file's contents as ``X``, for secret fields ``X``."""
        problems = []
        for key in [k for k in table if k.endswith("_file") and _is_secret(model, k[: -len("_file")])]:
            field = key[: -len("_file")]
            location = table.pop(key)
            if field in table:
                problems.append(f"{where}.{field}: set either {field} or {key}, not both")
                continue
            file = Path(str(location)).expanduser()
            if not file.is_absolute():
                creds = os.environ.get("CREDENTIALS_DIRECTORY")
                file = (Path(creds) if creds else self.base_dir) / file
            try:
                table[field] = file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                why = f"cannot read {file}: {exc.strerror or exc}"
                if self.need:
                    problems.append(f"{where}.{key}: {why}")
                else:
                    self._lack(table, where, field, f"{key}: {why}")
        return problems


def _validate(model: type[Any], table: Any, where: str, context: dict, problems: list[str]) -> Any:
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table ([{where}])")
        return None
    try:
        return model.model_validate(table, context=context)
    except ValidationError as exc:
        problems += _describe(exc, tuple(where.split(".", 1)))
        return None


def _describe(exc: ValidationError, prefix: tuple[str, ...]) -> list[str]:
    lines = []
    for error in exc.errors():
        key = ".".join((*prefix, *(str(p) for p in error["loc"]))) or "(top level)"
        if error["type"] == "extra_forbidden":
            message = "unknown option"
        elif error["type"] == "missing":
            message = "required"
        else:
            message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{key}: {message}")
    return lines

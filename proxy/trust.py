"""Trusting the ledger: the signing key and checkpoint file from `dpsql.yaml`, start-up
verification, and the checkpoint schedule.

The server verifies the whole ledger before it serves (the chain, the
checkpoints, the derived tables and the attempts log) and refuses to start
with ``ledger_tampered`` when anything disagrees; while it runs, the ledger's
guard re-checks what each charge trusts (accountant/ledger/guard.py).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from accountant import TamperEvidence
from accountant.ledger.checkpoints import Notary, key_from_text, load_key

from .config import CheckpointConfig, Config, ConfigError

log = logging.getLogger("dpsql")

_SQLITE = "sqlite:///"


def checkpoint_settings(config: Config) -> CheckpointConfig | None:
    """The checkpoint settings in force; a SQLite ledger gets a key and a file beside it."""
    settings = config.ledger.checkpoints
    url = config.ledger.url
    if settings is not None and (settings.key_file or settings.key_env):
        return settings
    if not url.startswith(_SQLITE):
        if settings is not None:
            raise ConfigError("ledger.checkpoints: name the signing key (`key_file` or "
                              "`key_env`); with a PostgreSQL ledger dpsql cannot choose a "
                              "place for it")
        return None
    path = Path(url.removeprefix(_SQLITE))
    defaults = {"key_file": Path(f"{path}.key"), "file": Path(f"{path}.checkpoints")}
    if settings is not None and settings.file is not None:
        defaults["file"] = settings.file
    return (settings or CheckpointConfig()).model_copy(update=defaults)


def notary_for(config: Config, *, create: bool = False) -> Notary | None:
    """The signer of this deployment's checkpoints (None: none configured, PostgreSQL).

    ``create`` makes the default key of a SQLite ledger when it is missing (the
    server does; `ledger verify` gets None, and reports checkpoints it cannot check).
    """
    settings = checkpoint_settings(config)
    if settings is None:
        return None
    if settings.key_env is not None:
        text = os.environ.get(settings.key_env)
        if not text:
            raise ConfigError(f"ledger.checkpoints.key_env: the environment variable "
                              f"{settings.key_env} is not set; it must hold the Ed25519 "
                              f"signing key (PEM, or the 32-byte seed in hex)")
        key = key_from_text(text, f"the environment variable {settings.key_env}")
    else:
        assert settings.key_file is not None
        default = config.ledger.checkpoints is None or config.ledger.checkpoints.key_file is None
        if not settings.key_file.exists() and default and not create:
            return None  # no proxy has started on this ledger yet; verify says if that's odd
        if not settings.key_file.exists() and not (create and default):
            raise ConfigError(
                f"ledger.checkpoints.key_file: the signing key {settings.key_file} does not "
                f"exist; create one with `openssl genpkey -algorithm ed25519 -out "
                f"{settings.key_file}` (or restore the deployment's key: checkpoints signed "
                f"with another key do not verify)")
        if not settings.key_file.exists():
            log.warning(
                "created the checkpoint signing key %s and the checkpoint file %s. Their "
                "custody is what makes a truncated ledger visible: keep the key readable by "
                "the proxy only and copy the file (or point ledger.checkpoints.file) "
                "somewhere the ledger database's writers cannot rewrite",
                settings.key_file, settings.file)
        key = load_key(settings.key_file, create=create and default)
    return Notary(key, settings.file)


def start_trusted(config: Config, ledger: TamperEvidence) -> Notary | None:
    """Verify the ledger and keep it guarded; raises LedgerTampered when it does not verify."""
    notary = notary_for(config)
    unchecked(config, ledger, notary)  # a lost key is not replaced by a new one
    if notary is None:
        notary = notary_for(config, create=True)
    if notary is None:
        log.warning("ledger %s: no checkpoint signing key is configured "
                    "(ledger.checkpoints.key_file or key_env), so a truncated tail whose "
                    "head row was rewritten is caught only against a receipt kept elsewhere",
                    config.ledger.url.split("@")[-1])
    else:
        settings = checkpoint_settings(config)
        assert settings is not None
        ledger.use_notary(notary, settings.every_entries)
    ledger.start_guarded()
    return notary


def unchecked(config: Config, ledger: TamperEvidence, notary: Notary | None) -> None:
    """Signed checkpoints and no key to check them with: the key was lost, or the
    configuration was changed to skip them; either way, not something to run on."""
    if notary is not None:
        return
    held = len(ledger.checkpoints())
    if held:
        key = "ledger.checkpoints.key_file or key_env"
        if config.ledger.url.startswith(_SQLITE):
            key = f"the key file {checkpoint_settings(config).key_file}"  # type: ignore[union-attr]
        raise ConfigError(f"the ledger holds {held} signed checkpoints but no signing key is "
                          f"at hand to check them; restore the deployment's key ({key})")


class Checkpointer:
    """Signs a checkpoint every ``every_seconds`` while the ledger moved, and at shutdown."""

    def __init__(self, ledger: TamperEvidence, every_seconds: float) -> None:
        self._ledger = ledger
        self._every = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dpsql-checkpoints",
                                        daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop, leaving a checkpoint of where the ledger stands at shutdown."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._sign()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._sign()

    def _sign(self) -> None:
        try:
            self._ledger.checkpoint(if_moved=True)
        except Exception as exc:  # noqa: BLE001 - keep trying; the log says why
            log.error("could not sign a ledger checkpoint (%s); retrying in %ss",
                      type(exc).__name__, self._every)


def schedule(config: Config, ledger: TamperEvidence, notary: Notary | None) -> Checkpointer | None:
    settings = checkpoint_settings(config)
    if notary is None or settings is None:
        return None
    return Checkpointer(ledger, settings.every_seconds).start()

"""Read the settings file and scan the host: what every command starts from.

Kept free of jinja2 and of the writer so that `status` and `doctor` start fast.
"""

from typing import NamedTuple

from irisxe_sriov import host, roles, settings
from irisxe_sriov.paths import Paths


class Situation(NamedTuple):
    """What was read from a root: the settings file and the host."""

    settings_text: str | None
    settings: settings.Settings
    host: host.HostState
    machine: roles.Detected


def load(paths: Paths, values: dict[str, str] | None = None) -> Situation:
    """Read the settings file (with `values` laid over it) and scan the host.

    Raises settings.SettingsError for a bad file or bad values.
    """
    source = paths.display(paths.settings)
    try:
        text = host.read_optional(paths.settings, settings.MAX_FILE_SIZE)
    except host.UnreadableFile as error:
        raise settings.SettingsError(f"{source} {error.reason}") from None
    raw = {} if text is None else settings.parse_lines(text, source)
    raw.update(values or {})
    pf_address = raw.get("pf", settings.DEFAULT_PF)
    # A malformed PF address is reported by build(); scan the default meanwhile.
    scan_address = pf_address if settings.PF_RE.fullmatch(pf_address) else settings.DEFAULT_PF
    state = host.scan(paths, scan_address)
    pf = state.pf
    found = settings.PciIdentity(pf.vendor, pf.pci_class, pf.device) if pf.present else None
    current = settings.build(raw, pf.sriov_totalvfs, found)
    return Situation(text, current, state, detect(paths, state, current))


def detect(paths: Paths, state: host.HostState, current: settings.Settings) -> roles.Detected:
    """What this machine is to the GPU (roles.decide), from its hardware or the setting."""
    return roles.decide(roles.read(paths, state.pf), current.machine_role)


def with_defaults(paths: Paths) -> Situation:
    """The default settings over a scan of the host: for diagnosing a broken file."""
    defaults = settings.Settings()
    state = host.scan(paths, defaults.pf)
    return Situation(None, defaults, state, detect(paths, state, defaults))

from pathlib import Path

from irisxe_sriov.machine import aptdpkg, packages
from irisxe_sriov.paths import Paths


def test_installed_version_reads_only_installed_stanzas(fake):
    paths = Paths(fake.root)
    assert aptdpkg.installed_version(paths, "i915-sriov-dkms") is None
    fake.install_package("i915-sriov-dkms-extra", "1")
    fake.install_package("i915-sriov-dkms", "2025.12.10")
    assert aptdpkg.installed_version(paths, "i915-sriov-dkms") == "2025.12.10"
    status = fake.root / "var/lib/dpkg/status"
    status.write_text(
        status.read_text().replace(
            "Package: i915-sriov-dkms\nStatus: install ok installed",
            "Package: i915-sriov-dkms\nStatus: deinstall ok config-files",
        )
    )
    assert aptdpkg.installed_version(paths, "i915-sriov-dkms") is None


def test_same_version_compares_as_dpkg_does():
    assert packages.same_version("2025.12.10", "2025.12.10")
    assert packages.same_version("0:2025.12.10", "2025.12.10")
    assert not packages.same_version("2025.12.10-1", "2025.12.10")


def test_stanza_reader_agrees_with_python_debian_on_a_real_status_file(tmp_path):
    """Every package of this system's dpkg status file (read only, and the largest real
    one at hand), read by packages' own reader and by python-debian's deb822."""
    from debian import deb822

    text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    stanzas = list(deb822.Deb822.iter_paragraphs(text))
    assert len(stanzas) > 100
    for expected in stanzas:
        name = expected["Package"]
        ours = [packages.stanza_fields(s) for s in packages.stanzas_naming(text, name)]
        match = [f for f in ours if f.get("Architecture") == expected.get("Architecture")]
        assert len(match) == 1, name
        for field in ("Package", "Status", "Version", "Architecture"):
            assert match[0].get(field) == expected.get(field), (name, field)
        assert match[0].get("Description") == expected.get("Description"), name


def test_stanza_fields_fold_continuations_and_skip_lines_without_a_colon():
    fields = packages.stanza_fields(
        "Package: a\nDescription: short\n long\n .\n more\nnot a field\nVersion: 1\n"
    )
    assert fields == {"Package": "a", "Description": "short\n long\n .\n more", "Version": "1"}


def test_a_package_line_inside_another_field_is_not_a_stanza():
    text = "Package: b\nDescription: x\n Package: a\nVersion: 2\n\nPackage: a\nVersion: 1\n"
    assert packages.stanzas_naming(text, "a") == ["Package: a\nVersion: 1\n"]


def test_only_newlines_end_a_line():
    """A value holding a form feed, a vertical tab or U+2028 is one line to dpkg and
    python-debian; str.splitlines() would cut it there."""
    stanza = "Package: odd\nDescription: a\fb\vc\u2028d\n more\nVersion: 1\n"
    assert packages.stanza_fields(stanza) == {
        "Package": "odd",
        "Description": "a\fb\vc\u2028d\n more",
        "Version": "1",
    }

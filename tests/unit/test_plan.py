from irisxe_sriov.write import plan

INITRAMFS = ("update-initramfs", "-u", "-k", "all")


def make(owned, on_disk, manifest=None, edited=None):
    return plan.from_files(
        owned=owned,
        edited=edited or {},
        on_disk=on_disk,
        manifest_text=manifest,
        reboot_files=frozenset({"/etc/modprobe.d/x.conf"}),
        commands_by_file={"/etc/modprobe.d/x.conf": INITRAMFS, "/etc/m2": INITRAMFS},
    )


def test_actions_and_commands():
    p = make(
        {"/etc/modprobe.d/x.conf": "new\n", "/etc/a": "same\n", "/etc/m2": "b\n"},
        {
            "/etc/modprobe.d/x.conf": "old\n",
            "/etc/a": "same\n",
            "/etc/m2": None,
            "/etc/sysfs.d/irisxe-sriov.conf": "x\n",
        },
        manifest="/etc/a\n/etc/sysfs.d/irisxe-sriov.conf\n/etc/modprobe.d/x.conf\n/etc/made/\n"
        # never deleted: not files this package generates (docs/notes.md, "Hostile input")
        "/etc/passwd\n/etc/driverctl.d/../../x\n/../outside\n",
    )
    actions = {c.path: c.action for c in p.changes}
    assert actions == {
        "/etc/modprobe.d/x.conf": "update",
        "/etc/a": "unchanged",
        "/etc/m2": "create",
        "/etc/sysfs.d/irisxe-sriov.conf": "delete",
    }
    assert p.commands == (INITRAMFS,)  # once, although two files need it
    assert p.reboot
    assert p.manifest == "/etc/a\n/etc/m2\n/etc/made/\n/etc/modprobe.d/x.conf\n"


def test_nothing_to_do_is_empty():
    manifest = "/etc/a\n"
    p = make({"/etc/a": "x\n"}, {"/etc/a": "x\n"}, manifest=manifest)
    assert p.empty and p.commands == () and not p.reboot and p.manifest is None


def test_edited_files_are_never_deleted_or_recorded():
    p = make({}, {"/etc/kernel/cmdline": "a\n"}, edited={"/etc/kernel/cmdline": "a b\n"})
    assert [(c.path, c.action) for c in p.changes] == [("/etc/kernel/cmdline", "update")]
    assert p.manifest is None  # nothing owned, the empty manifest stays absent


def test_diff_is_unified_with_host_paths():
    change = plan.compare("/etc/x", "a\nb\n", "a\nc\n")
    assert change.diff() == (
        "--- /etc/x (on disk)\n+++ /etc/x (planned)\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    )
    assert plan.compare("/etc/x", None, "a\n").diff() == (
        "--- /dev/null\n+++ /etc/x (planned)\n@@ -0,0 +1 @@\n+a\n"
    )
    assert plan.compare("/etc/x", "a\n", None).diff() == (
        "--- /etc/x (on disk)\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n"
    )


def test_owned_files_are_ours_edited_ones_the_admins():
    """apply hands owned /etc files to ucf and writes the admin's edited ones itself
    (apply.entries_for reads Change.owned): a deleted file was ours too."""
    p = make(
        {"/etc/modprobe.d/x.conf": "new\n"},
        {"/etc/kernel/cmdline": "a\n", "/etc/sysfs.d/irisxe-sriov.conf": "x\n"},
        manifest="/etc/sysfs.d/irisxe-sriov.conf\n",
        edited={"/etc/kernel/cmdline": "a b\n"},
    )
    assert [(c.path, c.action, c.owned) for c in p.changes] == [
        ("/etc/modprobe.d/x.conf", "create", True),
        ("/etc/kernel/cmdline", "update", False),
        ("/etc/sysfs.d/irisxe-sriov.conf", "delete", True),
    ]


def test_manifest_lines_that_are_no_clean_path_are_ignored():
    """Directories apply created are recorded with a trailing slash and removed by purge
    when empty: never the root, a relative path, or one with "..", "." or "//" in it, and
    a bad line does not hide the good ones after it (docs/notes.md, "Hostile input")."""
    text = (
        "/etc/../\n/\n/etc/./x/\n//etc/\nrelative/dir/\n"
        "/etc/\n/etc/made/\n/etc/modprobe.d/irisxe-sriov.conf\n/etc/passwd\n"
    )
    assert plan.parse_manifest(text) == [
        "/etc/",
        "/etc/made/",
        "/etc/modprobe.d/irisxe-sriov.conf",
    ]
    assert plan.parse_manifest(None) == []


def test_drift_names_edited_and_removed_files():
    on_disk = {"/etc/a": "x\n", "/etc/b": None, "/etc/c": "new\n"}
    # /etc/0 was never written by apply (no copy): no drift, and the others still count
    written = {"/etc/0": None, "/etc/a": "x\n", "/etc/b": "y\n", "/etc/c": "old\n"}
    assert plan.drift(on_disk, written) == [
        plan.Drift("/etc/b", "removed"),
        plan.Drift("/etc/c", "edited"),
    ]

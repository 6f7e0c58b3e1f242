"""The JSON contract (src/irisxe_sriov/report/contract.py): every --json document of every
command, on every kind of machine the judgement tests know (tests/harness/machines.py) with each
kind of settings file, on a host with a kernel hold in place, and for errors, validates
against its installed schema (conf/schema/, python3-jsonschema). The schemas list every
field as required and allow no other: a field added, removed or retyped without the
schema fails here."""

import json
import types
import typing
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import fakesys
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.report import contract
from machines import MACHINES, root_of

SCHEMAS = Path(__file__).resolve().parents[2] / "conf" / "schema"
SETTINGS = {None: None, "i915": 'DRIVER="i915"\n', "xe": 'DRIVER="xe"\n'}
COMMANDS = {
    contract.Document.STATUS: ["status"],
    contract.Document.DOCTOR: ["doctor"],
    contract.Document.KERNELS: ["kernels"],
    contract.Document.CONFIG: ["config", "show"],
}


def schema(document: contract.Document) -> dict:
    return json.loads((SCHEMAS / f"{document}.schema.json").read_text())


def validate(document: contract.Document, text: str) -> dict:
    found = json.loads(text)
    jsonschema.Draft202012Validator(schema(document)).validate(found)
    assert found["schema_version"] == contract.SCHEMA_VERSION
    return found


def ctl(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


def apart(root: Path, *args: str):
    """With stdout and stderr apart: click 8.1's CliRunner mixes them unless told, 8.2's
    keeps them apart and has no such argument."""
    try:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, ["--root", str(root), *args])


def test_every_schema_is_a_valid_closed_schema_of_this_version():
    assert {p.name for p in SCHEMAS.iterdir()} == {
        f"{document}.schema.json" for document in contract.Document
    }
    major = contract.SCHEMA_VERSION.split(".")[0]
    for document in contract.Document:
        found = schema(document)
        jsonschema.Draft202012Validator.check_schema(found)
        assert found["properties"]["schema_version"]["pattern"] == f"^{major}\\.[0-9]+$"

        # every object lists each of its properties as required and allows no other
        def closed(node: object, where: str) -> None:
            if isinstance(node, dict):
                if node.get("type") == "object" and "properties" in node:
                    assert node["additionalProperties"] is False, where
                    assert sorted(node["required"]) == sorted(node["properties"]), where
                for key, value in node.items():
                    closed(value, f"{where}/{key}")
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    closed(value, f"{where}/{index}")

        closed(found, str(document))


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_document_on_every_machine_follows_its_schema(tmp_path, name, setting):
    root = root_of(name, tmp_path)
    text = SETTINGS[setting]
    if text is not None:
        fakesys.write(root / "etc/default/irisxe-sriov", text)
    for document, args in COMMANDS.items():
        result = ctl(root, *args, "--json")
        assert result.exit_code in (0, 1), (document, result.output)
        validate(document, result.output)


def test_a_kernel_hold_and_pending_fixes_follow_the_schemas(fake):
    """A hold in place (kind, reason, held), a fix with commands and a manual step."""
    from test_hold import host_with_a_new_kernel

    root = host_with_a_new_kernel(fake, "systemd-boot")
    pending = validate(contract.Document.STATUS, ctl(root, "status", "--json").output)
    assert any(step["argv"] for item in pending["pending"] for step in item["steps"])
    assert ctl(root, "apply").exit_code == 0
    status = validate(contract.Document.STATUS, ctl(root, "status", "--json").output)
    assert status["hold"]["kind"] == "auto"
    kernels = validate(contract.Document.KERNELS, ctl(root, "kernels", "--json").output)
    assert kernels["hold"] == status["hold"]
    assert [k["held"] for k in kernels["kernels"]] == [True, False]
    doctor = validate(contract.Document.DOCTOR, ctl(root, "doctor", "--json").output)
    assert doctor["summary"] == {
        level: sum(f["level"] == level for f in doctor["findings"])
        for level in ("ok", "warn", "fail", "skip")
    }


def test_errors_follow_the_error_schema(fake):
    fake.healthy()
    (fake.root / "etc/default").mkdir(parents=True, exist_ok=True)
    (fake.root / "etc/default/irisxe-sriov").write_text('NUM_VFS="lots"\n')
    for args in (["status"], ["kernels"], ["config", "show"]):
        result = apart(fake.root, *args, "--json")
        assert result.exit_code == 2, (args, result.output)
        # the error line goes to stderr, the document alone to stdout
        document = validate(contract.Document.ERROR, result.stdout)
        assert document["exit_status"] == 2 and "'lots'" in document["error"]


def test_one_type_per_field_everywhere(fake):
    """The settings are the same object in `status --json` and `config show --json`."""
    fake.healthy(numvfs=2)
    status = json.loads(ctl(fake.root, "status", "--json").output)
    shown = json.loads(ctl(fake.root, "config", "show", "--json").output)
    assert status["settings"] == {k: v for k, v in shown.items() if k != "schema_version"}


# --- the TypedDicts are the schemas ------------------------------------------------------

PRIMITIVES = {str: "string", int: "integer", bool: "boolean", type(None): "null"}


def resolve(node: dict, root: dict) -> dict:
    ref = node.get("$ref")
    return resolve(root["$defs"][ref.split("/")[-1]], root) if ref else node


def alternatives(node: dict, root: dict) -> list[dict]:
    node = resolve(node, root)
    if "oneOf" in node:
        return [alt for option in node["oneOf"] for alt in alternatives(option, root)]
    types = node.get("type")
    if isinstance(types, list):
        return [{**node, "type": one} for one in types]
    return [node]


def hint_alternatives(hint: object) -> list[object]:
    return list(typing.get_args(hint)) if isinstance(hint, types.UnionType) else [hint]


def differences(hint: object, node: dict, root: dict, where: str) -> list[str]:
    """Where the Python type `hint` and the schema `node` disagree: the JSON types each
    allows, and for objects and arrays what they hold, recursively."""
    found = []
    schema_by_type = {alt["type"]: alt for alt in alternatives(node, root)}
    python_by_type: dict[str, object] = {}
    for one in hint_alternatives(hint):
        origin = typing.get_origin(one) or one
        if typing.is_typeddict(one) or origin is dict:
            python_by_type["object"] = one
        elif origin is list:
            python_by_type["array"] = one
        else:
            python_by_type[PRIMITIVES[origin]] = one  # type: ignore[index]
    if set(schema_by_type) != set(python_by_type):
        return [f"{where}: schema {sorted(schema_by_type)}, type {sorted(python_by_type)}"]
    if "object" in python_by_type and typing.is_typeddict(python_by_type["object"]):
        typed = python_by_type["object"]
        fields = typing.get_type_hints(typed)
        properties = schema_by_type["object"].get("properties", {})
        if set(fields) != set(properties):
            found.append(f"{where}: schema {sorted(properties)}, type {sorted(fields)}")
        if set(schema_by_type["object"].get("required", [])) != set(fields):
            found.append(f"{where}: not every field is required")
        for name in set(fields) & set(properties):
            found += differences(fields[name], properties[name], root, f"{where}.{name}")
    if "array" in python_by_type:
        (item,) = typing.get_args(python_by_type["array"])
        found += differences(item, schema_by_type["array"]["items"], root, f"{where}[]")
    return found


@pytest.mark.parametrize("document", list(contract.Document))
def test_each_documents_type_is_its_schema(document):
    """contract.py's TypedDicts type every builder (mypy checks them); here they are held
    to the installed schemas: the same fields, all required, the same JSON types, nested
    objects and arrays included."""
    root = schema(document)
    assert differences(contract.TYPES[document], root, root, str(document)) == []

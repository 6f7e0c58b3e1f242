from irisxe_sriov import pciids


def test_every_group_of_facts_table_is_present():
    assert sorted(pciids.PLATFORMS) == ["ADL-N", "ADL-P", "ADL-S", "RPL-P", "RPL-S", "RPL-U"]
    counts = {group: len(ids) for group, (_, ids) in pciids.PLATFORMS.items()}
    assert counts == {"ADL-S": 8, "ADL-P": 18, "ADL-N": 5, "RPL-S": 8, "RPL-U": 5, "RPL-P": 5}


def test_ids_are_unique_lowercase_hex():
    ids = [i for _, group in pciids.PLATFORMS.values() for i in group]
    assert len(ids) == len(set(ids)) == 49
    assert all(len(i) == 4 and i == i.lower() and int(i, 16) for i in ids)


def test_platform_of():
    assert pciids.platform_of("8086", "a7a0") == "RPL-P"
    assert pciids.platform_of("8086", "46d1") == "ADL-N"
    assert pciids.platform_of("8086", "9a49") is None  # Tiger Lake: no SR-IOV in the pin
    assert pciids.platform_of("1002", "a7a0") is None  # not Intel
    assert pciids.platform_of("8086", None) is None

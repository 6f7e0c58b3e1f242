from irisxe_sriov import pciids

# The pinned driver's pciids.h as the facts list it, written out here and not derived
# from pciids.PLATFORMS: a test that read the table it checks could not fail.
FACTS = {
    "ADL-S": "4680 4682 4688 468a 468b 4690 4692 4693",
    "ADL-P": "46a0 46a1 46a2 46a3 46a6 46a8 46aa 462a 4626 4628 46b0 46b1 46b2 46b3 46c0 46c1 "
    "46c2 46c3",
    "ADL-N": "46d0 46d1 46d2 46d3 46d4",
    "RPL-S": "a780 a781 a782 a783 a788 a789 a78a a78b",
    "RPL-U": "a721 a7a1 a7a9 a7ac a7ad",
    "RPL-P": "a720 a7a0 a7a8 a7aa a7ab",
}


def test_every_group_of_facts_table_is_present():
    assert {group: " ".join(ids) for group, (_, ids) in pciids.PLATFORMS.items()} == FACTS
    assert list(pciids.PLATFORMS) == list(FACTS)  # xe.force_probe lists them in this order


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

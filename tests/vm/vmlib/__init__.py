"""Host side of the QEMU crash-injection harness (docs/testing.md, "QEMU guests")."""

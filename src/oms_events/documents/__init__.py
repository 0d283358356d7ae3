"""Warehouse documents: pick lists in waves, pack lists, shipping labels with e-waybills,
and scan-to-verify packing (配货 → 验货 → 发货). ``oms docs`` is the entry point."""

"""E-waybills (电子面单): the carriers' waybill number formats and the port that issues
numbers (``WaybillIssuer``), with a sandbox that stands in for the carriers' servers."""

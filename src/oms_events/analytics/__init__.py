"""Analytics over the projections: saved multi-dimensional reports written as CSV, XLSX,
Parquet and charts, their cron schedules, and demand forecasts per sku and location.

Every day here is a business day: the date in ``settings.analytics.timezone``.
"""

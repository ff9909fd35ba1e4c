"""Analytics over the Parquet export of Postgres: the console and the notebooks call these functions.

    from analytics.duck import connect          # DuckDB with one view per exported table
    from analytics.filters import Filters       # time range, teams, services, severities, responders
    from analytics import metrics, charts

    con = connect()                             # <DATA_DIR>/parquet, written by `slar export`
    window = Filters(start=..., end=...)        # zone-aware datetimes
    metrics.mtta_mttr(con, window, grain="week", by="service")
    metrics.escalation(con, window) / acks_by_responder / acks_by_level / incident_facts
    metrics.oncall_load(con, window) / fairness(con, window, measure="pages") / pages_by_hour_of_week
    metrics.top_alerts / flapping_alerts / auto_resolved_untouched / compression_by_integration
    charts.response_trend(frame, metric="mttr") / load_per_responder / pages_heatmap / noisy_alerts

Every metric function is ``f(con, filters=None, *, ...) -> polars.DataFrame`` and raises
app.errors.Invalid naming the field for a bad argument. Definitions live in the module docstrings
of analytics.metrics, analytics.load and analytics.noise; export rules in analytics.export.
"""

"""Altair charts over the frames analytics.metrics returns; the console and the notebooks draw these.

Each function takes the metric frame unchanged and returns an ``alt.Chart`` (or layer); none of them
computes a metric.
"""

from __future__ import annotations

import altair as alt
import polars as pl

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def response_trend(frame: pl.DataFrame, *, metric: str = "mttr", title: str | None = None) -> alt.LayerChart:
    """MTTA or MTTR per period: the p50–p95 band, the p90 line and the mean (minutes)."""
    if metric not in ("mtta", "mttr"):
        raise ValueError("metric must be 'mtta' or 'mttr'")
    cols = {f"{metric}_{k}_s": k for k in ("mean", "p50", "p90", "p95")}
    data = frame.select(pl.col("period"), *[(pl.col(c) / 60).alias(k) for c, k in cols.items()])
    base = alt.Chart(data).encode(x=alt.X("period:T", title=None))
    band = base.mark_area(opacity=0.25).encode(
        y=alt.Y("p50:Q", title=f"{metric.upper()} (minutes)"),
        y2="p95:Q",
        tooltip=["period:T", "p50:Q", "p95:Q"],
    )
    p90 = base.mark_line(strokeDash=[4, 3]).encode(y="p90:Q")
    mean = base.mark_line(point=True).encode(
        y="mean:Q", tooltip=["period:T", alt.Tooltip("mean:Q", format=".1f")]
    )
    return alt.layer(band, p90, mean).properties(title=title or f"{metric.upper()}: mean, p90, p50–p95 band")


def load_per_responder(load: pl.DataFrame) -> alt.Chart:
    """Pages per responder, stacked day / night (night in the responder's own zone)."""
    long = load.select("name", "day_pages", "night_pages").unpivot(
        index="name", variable_name="when", value_name="pages"
    )
    long = long.with_columns(pl.col("when").str.replace("_pages", ""))
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            # labelLimit 0: a long name is shown whole, never cut to "Alexandra Mont…".
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
            x=alt.X("sum(pages):Q", title="pages"),
            color=alt.Color("when:N", scale=alt.Scale(domain=["day", "night"], range=["#f2b134", "#2b3a67"])),
            tooltip=["name:N", "when:N", "pages:Q"],
        )
        .properties(title="Pages per responder, day and night")
    )


def pages_heatmap(hour_of_week: pl.DataFrame) -> alt.Chart:
    """Pages by local weekday and hour of day."""
    data = hour_of_week.with_columns(
        pl.col("weekday").map_elements(lambda d: WEEKDAYS[d - 1], return_dtype=pl.String).alias("day")
    )
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour (responder's local time)"),
            y=alt.Y("day:N", sort=WEEKDAYS, title=None),
            color=alt.Color("pages:Q", scale=alt.Scale(scheme="orangered")),
            tooltip=["day:N", "hour:O", "pages:Q"],
        )
        .properties(title="Pages by hour of the week")
    )


def noisy_alerts(top: pl.DataFrame) -> alt.Chart:
    """The most frequent alert kinds, as horizontal bars."""
    data = top.with_columns((pl.col("service") + " · " + pl.col("dedup_key")).alias("alert"))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("alert:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
            x=alt.X("alerts:Q"),
            tooltip=["alert:N", "alerts:Q", "incidents:Q", "summary:N"],
        )
        .properties(title="Noisiest alerts")
    )

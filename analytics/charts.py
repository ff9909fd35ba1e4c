"""Altair charts over the frames analytics.metrics returns; the console and the notebooks draw these.

Each function takes the metric frame unchanged and returns an ``alt.Chart`` (or layer); none of them
computes a metric.
"""

from __future__ import annotations

import altair as alt
import polars as pl

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# Counts are whole: ticks at whole numbers only, never "0.05 alerts" when every count is 1.
COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)
# Streamlit's theme draws charts with no padding: a title sits at the very top edge and a y-axis title
# at the very left, so the top of an accent ("Å", "É") or the last half of a tick label is clipped by
# the SVG's edge. A few pixels around every chart keep each text's whole line box inside it.
PADDING = {"left": 6, "top": 6, "right": 8, "bottom": 4}


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
    return alt.layer(band, p90, mean).properties(
        title=title or f"{metric.upper()}: mean, p90, p50–p95 band", padding=PADDING
    )


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
            x=alt.X("sum(pages):Q", title="pages", axis=COUNT_AXIS),
            color=alt.Color(
                "when:N",
                title="paged at",
                scale=alt.Scale(domain=["day", "night"], range=["#f2b134", "#2b3a67"]),
            ),
            tooltip=["name:N", "when:N", "pages:Q"],
        )
        .properties(title="Pages per responder, day and night", padding=PADDING)
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
            # The whole week on both axes: a quiet hour is an empty cell, not a missing column.
            x=alt.X(
                "hour:O",
                title="hour (responder's local time)",
                scale=alt.Scale(domain=list(range(24))),
                axis=alt.Axis(labelAngle=0),
            ),
            y=alt.Y("day:N", title=None, scale=alt.Scale(domain=WEEKDAYS)),
            color=alt.Color(
                "pages:Q", scale=alt.Scale(scheme="orangered"), legend=alt.Legend(format="d", tickMinStep=1)
            ),
            tooltip=["day:N", "hour:O", "pages:Q"],
        )
        .properties(title="Pages by hour of the week", padding=PADDING)
    )


def noisy_alerts(top: pl.DataFrame) -> alt.Chart:
    """The most frequent alert kinds, as horizontal bars."""
    data = top.with_columns((pl.col("service") + " · " + pl.col("dedup_key")).alias("alert"))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("alert:N", sort="-x", title=None, axis=alt.Axis(labelLimit=0)),
            x=alt.X("alerts:Q", axis=COUNT_AXIS),
            tooltip=["alert:N", "alerts:Q", "incidents:Q", "summary:N"],
        )
        .properties(title="Noisiest alerts", padding=PADDING)
    )

"""Schedules: a weekly full refresh and a daily Hub refresh. (Freshness policies sit on the ingest assets.)"""

import dagster as dg

# Everything downstream of the Hub cards (API and daily dump): new or changed cards flow through to a release.
hub_refresh = dg.define_asset_job(
    "hub_refresh",
    selection=dg.AssetSelection.assets("hub_cards", "hub_dump_cards").downstream()
    .required_multi_asset_neighbors(),
    description="Fetch changed Hub cards, read the daily card dump, and rebuild what depends on them",
)
full_refresh = dg.define_asset_job(
    "full_refresh", selection=dg.AssetSelection.all(),
    description="Rebuild everything: registry, documents, Hub, reference, estimates, release",
)

schedules = [
    dg.ScheduleDefinition(job=full_refresh, cron_schedule="0 3 * * 1", execution_timezone="UTC"),
    dg.ScheduleDefinition(job=hub_refresh, cron_schedule="0 4 * * *", execution_timezone="UTC"),
]

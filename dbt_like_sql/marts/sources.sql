-- Published: one row per source document, with the number of figures taken from it and the stored
-- snapshot of the document when the ingest stage fetched it.
with counts as (
    select source_id, count(*) as figure_count
    from int_disclosures_sourced
    group by source_id
)

select
    s.source_id,
    s.title,
    s.organization,
    s.published_date,
    s.kind,
    s.url,
    s.license,
    s.verified_in,
    s.verification,
    s.verification_note,
    coalesce(s.snapshot_sha256, d.snapshot_sha256) as snapshot_sha256,
    coalesce(c.figure_count, 0) as figure_count
from stg_registry__sources as s
left join counts as c using (source_id)
left join document_snapshots as d using (source_id)
order by s.source_id

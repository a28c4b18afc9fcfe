-- The headline candidate per model and stage, by a documented precedence: first-party before
-- restatement, current before superseded, a run with emissions before one without, the most recent
-- source, then source id (for determinism).
with ranked as (
    select
        *,
        row_number() over (
            partition by model_id, stage
            order by
                is_restatement,
                is_superseded,
                emissions_tco2e is null,
                source_published_date desc nulls last,
                source_id
        ) as precedence
    from int_runs_candidates
)

select
    model_id || '@' || stage as run_id,
    * exclude (precedence),
    duration_hours / 24 as training_days
from ranked
where precedence = 1

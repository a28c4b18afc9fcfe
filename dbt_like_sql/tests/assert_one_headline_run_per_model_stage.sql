-- Exactly one headline run per model and stage; none only where the rules say so: an aggregate whose
-- members have runs of that stage, or runs covering stages that have their own headlines.
with per_stage as (
    select
        model_id,
        stage,
        count(*) filter (where is_headline) as n_headline,
        bool_and(not is_headline and (headline_reason like 'aggregate:%' or headline_reason like 'covers stages%'))
            filter (where precedence = 1) as is_covered
    from training_runs
    group by model_id, stage
)

select model_id, stage, n_headline
from per_stage
where n_headline > 1 or (n_headline = 0 and not coalesce(is_covered, false))

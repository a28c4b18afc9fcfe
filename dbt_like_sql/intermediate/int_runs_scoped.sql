-- Each candidate run with its scope: who published it (first-party when the source's organization is the
-- model's developer), whether it is the original publication of its figure (a restatement, or a copy of an
-- equal figure another source published first, is not), the model's registry entry (aggregate, members,
-- family, base model, training year) and how many sources report the same model and stage.
with orgs as (
    select alias_key, organization from organization_aliases
),

runs as (
    select
        c.*,
        coalesce(m.model_name, c.model_name) as registry_model_name,
        coalesce(m.organization, c.organization) as developer,
        m.family_id,
        m.base_model_id,
        coalesce(m.is_aggregate, false) as is_aggregate,
        m.member_model_ids,
        coalesce(m.training_year, m.release_year, c.year) as training_year,
        -- the organizations the source names (several, separated by ';'), parentheses dropped
        list_transform(
            string_split(coalesce(c.source_organization, ''), ';'),
            lambda p: regexp_replace(lower(regexp_replace(p, '\(.*\)', '', 'g')), '[^a-z0-9]', '', 'g')
        ) as source_org_keys
    from int_runs_candidates as c
    left join model_registry as m using (model_id)
),

typed as (
    select
        r.*,
        -- the developer published it (one of the source's organizations is the model's developer), or the
        -- curator read the source as the developer's own (not a restatement)
        not r.is_restatement or exists (
            select 1
            from orgs as s
            join orgs as d on s.organization = d.organization
            where list_contains(r.source_org_keys, s.alias_key)
              and d.alias_key = regexp_replace(lower(r.developer), '[^a-z0-9]', '', 'g')
        ) as is_first_party
    from runs as r
),

numbered as (
    select
        *,
        row_number() over (
            partition by model_id, stage, source_id
            order by list_position(['final run only', 'includes idle and infrastructure', 'includes embodied hardware',
                                    'includes development and experiments', 'includes use'], boundary) nulls last,
                     model_name
        ) as run_number
    from typed
),

copies as (
    -- an equal emissions figure (within the rounding of either print) that another source published
    -- earlier: this run repeats it
    select distinct a.model_id, a.stage, a.source_id, a.model_name
    from numbered as a
    join numbered as b
        on a.model_id = b.model_id and a.stage = b.stage and a.source_id <> b.source_id
        and abs(a.emissions_tco2e - b.emissions_tco2e)
            <= greatest(coalesce(a.emissions_resolution, 0), coalesce(b.emissions_resolution, 0)) / 2 + 1e-9
        and (b.source_published_date < a.source_published_date
             or (b.source_published_date = a.source_published_date and b.source_id < a.source_id))
        and (b.is_first_party or not a.is_first_party)
    where not a.is_superseded and not b.is_superseded
)

select
    -- a source's second and later runs of one model and stage get @2, @3 (widest boundary last)
    t.model_id || '@' || t.stage || '@' || t.source_id
        || if(t.run_number = 1, '', '@' || t.run_number) as run_id,
    t.* exclude (source_org_keys, is_first_party, developer, registry_model_name, run_number),
    t.developer as organization_canonical,
    if(t.is_first_party, 'first-party', 'third-party') as disclosure_type,
    (c.model_id is not null) as is_copy,
    not t.is_restatement and c.model_id is null as is_primary,
    count(distinct t.source_id) over (partition by t.model_id, t.stage) as n_sources,
    t.duration_hours / 24 as training_days
from numbered as t
left join copies as c using (model_id, stage, source_id, model_name)

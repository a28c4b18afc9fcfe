-- Every estimate lies within its own bounds, and a disclosed value is never replaced by an estimate.
select run_id, emissions_origin, emissions_tco2e, estimated_tco2e, estimate_low_tco2e, estimate_high_tco2e
from training_runs
where (estimated_tco2e is not null
       and not (estimate_low_tco2e <= estimated_tco2e and estimated_tco2e <= estimate_high_tco2e))
   or (lifecycle_tco2e is not null
       and not (lifecycle_low_tco2e <= lifecycle_tco2e and lifecycle_tco2e <= lifecycle_high_tco2e))
   or (emissions_origin = 'estimated' and emissions_tco2e is distinct from estimated_tco2e)

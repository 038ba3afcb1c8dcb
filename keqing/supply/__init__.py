"""Patient supply and follow-up (到期与回访): pure Polars functions, the rules object as a parameter.

- ``supply``: days of supply, consecutive coverage per patient and product, the supply state.
- ``adherence``: proportion of days covered (PDC) with the PQA shift-forward convention.
- ``expiry``: the monthly expiry lists (到期名单) with must-keep (必保量) and target (目标量).
- ``assignment``: which staff member works an item when the master data names nobody usable.
- ``callbacks``: the callback list (回访名单) of a run date.
- ``home_visits``: rural home-visit plans per village and free-clinic event.

Dates inside the hot paths are day numbers (days since 1970-01-01, ``Int32``) and become ``Date``
again in the outputs. Every function sees only records dated up to the run's cutoff.
"""

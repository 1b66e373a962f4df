"""The licensing reference system: the consumer the hub delivers to.

A small labour-licensing system that decides licence applications with data
the agencies own (asked through the hub), answers the police's visa checks,
and applies the events the hub delivers (arrivals, departures, renewals,
visas issued, salary batches, labour cases), each exactly once.

    findings      what every decision is made of: reasons, the agencies' non-answers, the outcome
    rules         pure decision logic (private, commercial licences); visa_rules the visa check's
    canonical_io  reading/writing canonical bodies (the one place with element names)
                  and one_pass_readers: the bodies read most (border events, visa checks) in one pass
    state         its own database (SQLAlchemy Core) + idempotent apply
    effects       what each event changes, inside apply_once's transaction
    decider       asks the agencies through ``ask`` and records the decision
    consumer      the ``licensing`` queue handler (verify → read → apply once → reply)
    hub_link      verify / seal / TransportAsk: the hub-facing callables
    app           Flask UI + JSON API
"""

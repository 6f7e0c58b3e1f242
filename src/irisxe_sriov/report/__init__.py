"""Judge once, report: judgement turns one Snapshot into Verdicts (with differences, what
configured and running disagree on); status, doctor and metrics render them; contract
versions the JSON documents. All pure."""

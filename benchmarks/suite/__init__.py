"""The pieces of `benchmarks/compare.py`, each small enough to read in one sitting.

    workloads.py    WORKLOADS: name -> Workload (data, network, optimizer, epochs, split)
    contenders/     CONTENDERS: name -> Contender (the package it needs, how it fits one workload)
    child.py        what runs inside each fresh child process: meter, fit, kernel report
    procs.py        starting children with the machine's own kernels; timing whole commands
    cli.py          the `nncli train` contender and the start-up / per-epoch bars of the CLI
    report.py       the Markdown tables and the bars

Adding a workload: one entry in WORKLOADS with a `kind` ("mlp" today). Adding a contender: one
module under contenders/ with a function per kind it supports, registered in CONTENDERS. A
contender that does not list a workload's kind is skipped for it with a stated reason, so a new
kind ("cnn", "csv", "sweep") can land with only the contenders that support it.
"""

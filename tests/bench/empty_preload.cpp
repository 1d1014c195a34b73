// An empty library: loading it measures what the dynamic loader charges for any preload.
int vdsotrace_bench_empty_preload;

// Does nothing: measures what merely loading the shim costs a process.
int main() { return 0; }

int main() { return 0; }  // temporary while the CLI sources are .wip

// Runs every benchmark in bench/ one after another; each writes its own figures.
console.log('no benchmarks yet');

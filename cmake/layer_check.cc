// Linked with one layer library as a whole archive and nothing but the layers it declares: the link
// fails when the layer calls into a layer above it.
int main() { return 0; }

// Links against an installed libh4mk through find_package(h4mk).
#include <h4mk/h4mk.hpp>
#include <iostream>

int main() {
  h4mk::MemorySink sink;
  h4mk::Writer w(sink);
  h4mk::Track t;
  t.id = 1;
  w.add_track(t);
  w.finish();
  h4mk::MemorySource src(sink.bytes());
  h4mk::Reader r(src);
  std::cout << "tracks: " << r.tracks().size() << "\n";
  return r.tracks().size() == 1 ? 0 : 1;
}

// Links against an installed libh4mk-adapters through find_package(h4mk).
#include <h4mk/adapters.hpp>
#include <iostream>

int main() {
  try {
    h4mk::load_adapter("./not-a-name.so");
    return 1;  // a path is never taken for a name
  } catch (const h4mk::Error& e) {
    std::cout << "refused: " << e.what() << "\n";
  }
  return h4mk::is_adapter_name("dsp") ? 0 : 1;
}

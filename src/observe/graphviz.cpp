// SPDX-License-Identifier: MIT
#include "observe/graphviz.hpp"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <memory>

namespace synack::observe {
namespace {

// What Graphviz reports while we render (it calls a plain function pointer: no context).
std::string& graphviz_messages() {
  static std::string messages;
  return messages;
}

int collect_message(char* message) {
  std::string& all = graphviz_messages();
  if (all.size() < 4096) all += message;  // bounded: a broken graph can report per line
  return 0;
}

// One context for the process, never freed: Graphviz 2.42's gvFreeContext frees the text-size
// cache's font names that the next context still compares against (a use-after-free that ASan
// reports on the second picture of a run).
GVC_t* graphviz_context() {
  static GVC_t* context = gvContext();
  return context;
}

struct GraphClose {
  void operator()(Agraph_t* graph) const { agclose(graph); }
};

std::string reported(const char* what) {
  std::string message = what;
  std::string& said = graphviz_messages();
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  if (!said.empty()) message += ": " + said;
  return message;
}

}  // namespace

Expected<std::string, std::string> render_graphviz(const std::string& dot,
                                                   const std::string& format) {
  graphviz_messages().clear();
  agusererrf previous = agseterrf(collect_message);
  struct Restore {
    agusererrf previous;
    ~Restore() { agseterrf(previous); }
  } restore{previous};

  GVC_t* context = graphviz_context();
  if (!context) return Unexpected{std::string("libgvc: cannot create a Graphviz context")};
  std::unique_ptr<Agraph_t, GraphClose> graph(agmemread(dot.c_str()));
  if (!graph) return Unexpected{reported("Graphviz could not read the DOT")};
  if (gvLayout(context, graph.get(), "dot") != 0)
    return Unexpected{reported("Graphviz's dot layout failed")};
  char* data = nullptr;
  unsigned int length = 0;
  int status = gvRenderData(context, graph.get(), format.c_str(), &data, &length);
  std::string out;
  if (status == 0 && data) out.assign(data, length);
  if (data) gvFreeRenderData(data);
  gvFreeLayout(context, graph.get());
  if (status != 0) return Unexpected{reported(("Graphviz cannot render " + format).c_str())};
  return out;
}

}  // namespace synack::observe

// ASan builds: Graphviz and the fontconfig, pango, cairo and glib it draws text with keep
// caches until the process ends; LeakSanitizer would report them at exit of every test or
// command that drew a picture. Ours are still checked.
#if defined(__SANITIZE_ADDRESS__)
#define SYNACK_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYNACK_LSAN 1
#endif
#endif
#ifdef SYNACK_LSAN
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgvc.so\n"
         "leak:libcgraph.so\n"
         "leak:libcdt.so\n"
         "leak:libpathplan.so\n"
         "leak:libgvplugin_\n"
         "leak:libfontconfig.so\n"
         "leak:libpango\n"
         "leak:libcairo.so\n"
         "leak:libharfbuzz.so\n"
         "leak:libglib-2.0.so\n"
         "leak:libgobject-2.0.so\n";
}
#endif

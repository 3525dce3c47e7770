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

struct ContextFree {
  void operator()(GVC_t* context) const { gvFreeContext(context); }
};
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

  std::unique_ptr<GVC_t, ContextFree> context(gvContext());
  if (!context) return Unexpected{std::string("libgvc: cannot create a Graphviz context")};
  std::unique_ptr<Agraph_t, GraphClose> graph(agmemread(dot.c_str()));
  if (!graph) return Unexpected{reported("Graphviz could not read the DOT")};
  if (gvLayout(context.get(), graph.get(), "dot") != 0)
    return Unexpected{reported("Graphviz's dot layout failed")};
  char* data = nullptr;
  unsigned int length = 0;
  int status = gvRenderData(context.get(), graph.get(), format.c_str(), &data, &length);
  std::string out;
  if (status == 0 && data) out.assign(data, length);
  if (data) gvFreeRenderData(data);
  gvFreeLayout(context.get(), graph.get());
  if (status != 0) return Unexpected{reported(("Graphviz cannot render " + format).c_str())};
  return out;
}

}  // namespace synack::observe

// "Tidy up": lay the flow out left to right in layers (dagre), using each node's measured size, so
// branches fan out without overlapping. Returns the new top-left positions; the caller applies them.
import dagre from "@dagrejs/dagre";

const SPACING = { rankdir: "LR", nodesep: 36, ranksep: 90, marginx: 0, marginy: 0 };

export function tidyPositions(nodes, edges) {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph(SPACING);
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    const { width = 220, height = 90 } = node.dimensions || {};
    graph.setNode(node.id, { width, height });
  }
  // Edges in the order of their source port (Next above the buttons, rules above Else) keep the
  // layers in the order people read the ports.
  for (const edge of edges) {
    if (graph.hasNode(edge.source) && graph.hasNode(edge.target)) graph.setEdge(edge.source, edge.target);
  }
  dagre.layout(graph);
  return nodes.map((node) => {
    const placed = graph.node(node.id);
    return { id: node.id, x: Math.round(placed.x - placed.width / 2), y: Math.round(placed.y - placed.height / 2) };
  });
}

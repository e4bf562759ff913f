// Entry of the bundle that ui/components/flow_editor.js imports as "flowgate-editor".
// esbuild keeps `vue` external: NiceGUI's import map supplies the one Vue the page runs.
export { FlowEditor } from "./editor.js";

// NiceGUI's component file for ui/components/flow_editor.py. The component itself lives in the bundle
// that ui/editor/build.py makes (imported through NiceGUI's import map as "flowgate-editor"), so it is
// built with the same pinned Vue Flow it uses.
//
// The import is dynamic so that a bundle that is not installed cannot fail this module: NiceGUI would
// then never register the component and the editor would stay a blank box. Instead a stand-in renders
// what flow_editor.py put inside the element, a notice that says how to build the bundle, and accepts
// the methods flow_editor.py calls (there is no canvas to change).
import { h } from "vue";

const MISSING = "The flow editor's bundle did not load: build it with `python ui/editor/build.py` and restart the ui.";
const METHODS = ["update_node", "set_view", "fit_view", "tidy", "focus_node", "select"];

let FlowEditor;
try {
  ({ FlowEditor } = await import("flowgate-editor"));
} catch (error) {
  console.error("Flowgate:", MISSING, error);
  FlowEditor = {
    name: "FlowEditorMissing",
    methods: Object.fromEntries(METHODS.map((name) => [name, () => {}])),
    render() {
      const notice = this.$slots.default?.();
      return h("div", { class: "flowgate-editor-missing" }, notice?.length ? notice : MISSING);
    },
  };
}

export default FlowEditor;

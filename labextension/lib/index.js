// Dockerfile highlighting for %%docker_build cells: while a code cell starts with the magic,
// its editor uses JupyterLab's built-in Dockerfile mode (text/x-dockerfile). The notebook
// resets cells' mime types (kernel change, cell insert), so it is re-applied on every change.
import { INotebookTracker } from '@jupyterlab/notebook';

const MAGIC = /^\s*%%docker_build\b/;
const DOCKERFILE = 'text/x-dockerfile';

function watchCell(cell, notebook, watched) {
  if (watched.has(cell) || cell.model.type !== 'code') {
    return;
  }
  watched.add(cell);
  const model = cell.model;
  const apply = () => {
    const wanted = MAGIC.test(model.sharedModel.getSource())
      ? DOCKERFILE
      : model.mimeType === DOCKERFILE
        ? notebook.codeMimetype
        : model.mimeType;
    if (model.mimeType !== wanted) {
      model.mimeType = wanted;
    }
  };
  model.contentChanged.connect(apply);
  model.mimeTypeChanged.connect(apply);
  apply();
}

const plugin = {
  id: 'docker-magics-highlight:plugin',
  description: 'Dockerfile syntax highlighting in %%docker_build cells.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app, tracker) => {
    const watched = new WeakSet();
    const watchAll = notebook => {
      for (const cell of notebook.widgets) {
        watchCell(cell, notebook, watched);
      }
    };
    tracker.widgetAdded.connect((_, panel) => {
      const notebook = panel.content;
      notebook.modelChanged.connect(() => watchAll(notebook));
      notebook.modelContentChanged.connect(() => watchAll(notebook));
      panel.context.ready.then(() => watchAll(notebook));
      watchAll(notebook);
    });
  }
};

export default plugin;

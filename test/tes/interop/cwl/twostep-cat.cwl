cwlVersion: v1.0
class: Workflow
doc: "echo -> cat (only commands a simulated shell supports)"
inputs:
  message: string
outputs:
  result:
    type: File
    outputSource: read/copy
  twice:
    type: File
    outputSource: shell/twice
steps:
  write:
    run: write.cwl
    in: {message: message}
    out: [out]
  read:
    run: cat.cwl
    in: {infile: write/out}
    out: [copy]
  shell:
    run: shell.cwl
    in: {infile: write/out}
    out: [twice, listing]

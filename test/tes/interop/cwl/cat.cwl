cwlVersion: v1.0
class: CommandLineTool
doc: "step 2: read the file with cat"
requirements:
  DockerRequirement:
    dockerPull: alpine:3.19
baseCommand: cat
inputs:
  infile:
    type: File
    inputBinding: {position: 1}
stdout: copy.txt
outputs:
  copy:
    type: File
    outputBinding: {glob: copy.txt}

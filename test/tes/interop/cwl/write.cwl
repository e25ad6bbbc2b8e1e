cwlVersion: v1.0
class: CommandLineTool
doc: "step 1: write a file with echo"
requirements:
  DockerRequirement:
    dockerPull: alpine:3.19
baseCommand: echo
inputs:
  message:
    type: string
    inputBinding: {position: 1}
stdout: hello.txt
outputs:
  out:
    type: File
    outputBinding: {glob: hello.txt}

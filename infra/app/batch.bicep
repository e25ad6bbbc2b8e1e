// Batch account in Batch-service allocation mode. The app authenticates with Microsoft Entra; its role
// covers what Slotwise does (pools it manages, jobs and tasks, reading applications).
// Application packages are the operator's step (see docs/operations.md, "Deploy to Azure"): upload them with
// `az batch application package create`; pool-level references use their full resource ids.
param name string
param location string
param tags object
param appPrincipalId string

resource account 'Microsoft.Batch/batchAccounts@2024-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    poolAllocationMode: 'BatchService'
    publicNetworkAccess: 'Enabled'
    allowedAuthenticationModes: ['AAD']
  }
}

// Least privilege instead of Contributor: pools, jobs (with their tasks) and reading applications.
resource operatorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(account.id, 'slotwise-batch-operator')
  properties: {
    roleName: 'Slotwise Batch operator (${name})'
    description: 'Manage pools, jobs and tasks and read applications of one Batch account.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: [
          'Microsoft.Batch/batchAccounts/read'
          'Microsoft.Batch/batchAccounts/pools/*'
          'Microsoft.Batch/batchAccounts/jobs/*'
          'Microsoft.Batch/batchAccounts/applications/read'
          'Microsoft.Batch/batchAccounts/applications/versions/read'
        ]
      }
    ]
  }
}

resource appBatchRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, 'slotwise-batch-operator')
  scope: account
  properties: {
    roleDefinitionId: operatorRole.id
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = account.name
output endpoint string = 'https://${account.properties.accountEndpoint}'

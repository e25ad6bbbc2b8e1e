// Key Vault for tenant secrets (webhook secret, intake secret, callback-token key) and the secrets
// tenants' environment values name (`{ "secretRef": "<name>" }`, kept as `tenant-<tenant>-env-<name>`,
// read when tasks and pools are sent to Batch). Cosmos holds references (`keyvault:<name>`); the app
// reads them with its identity, the operator's admin CLI writes them with the operator's.
param name string
param location string
param tags object
param appPrincipalId string
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

// The app only reads secrets: in Azure they are written by the operator's admin CLI (`npm run tenant:add`,
// with the operator's own sign-in), never by the app (it seeds tenant `dev` only on the local stack). So
// the app gets Secrets User, the operator Secrets Officer to create and rotate.
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

output uri string = vault.properties.vaultUri
